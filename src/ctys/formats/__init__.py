"""The original ctys' output forms that LIST and ENUMERATE share: its header lines
(``titles``: TITLE, TITLEIDX, TITLEIDXASC), SORT (``sorting``), the TAB_GEN table
(``tabgen``), LIST's 22-field record (``listfields``) and its TAB_TCP table (``tabtcp``),
and the one parse of those suboptions (``request``).

Core: knows no hypervisor. Imports ``errors``, ``invocation``, ``tables`` and
``textescape`` only; ``inventory`` and the plugins' actions import it."""
