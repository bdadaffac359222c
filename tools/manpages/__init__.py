"""The manual pages of ctys, generated from the docs (``docs/*.md``, the one source):
``roff`` turns Markdown (parsed by markdown-it-py) into man(7) roff, ``pages`` is the table
of pages and the doc sections each one takes, ``build`` writes them (``scripts/install.sh``
runs it into the venv's ``share/man``)."""
