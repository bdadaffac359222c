"""The inventory (name-service cache): records (``record``: one VM as seen from one host,
made from the ``ctys.conf.found.FoundVm`` its plugin described, STYPE the plugin's name),
the SQLite store (``store``), the ASCII cacheDB import/export (``cachedb``) and
``ctys-vhost`` queries (``query``). See docs/inventory.md. Import from the submodules: this
package file stays empty so that a command needing only the store does not load the query
engine.

Layer: core, below ``address`` and ``plugins.base``, above ``conf``; never imports
``ctys.cli`` or a plugin."""
