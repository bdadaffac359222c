"""The QEMU plugin's actions, one module each (``create``, ``cancel``, ``list``,
``enumerate``, ``info``), and their helpers: which VMs run, found from the runtime records
and the process table (``find_running``), VMs ctys did not start (``foreign``), VM-STACK
(``stack``), CREATE's start guard, KVM watch and ``WAIT:`` (``startguard``, ``kvmwatch``,
``waitready``).

May import the rest of ``ctys.plugins.qemu`` and the core (rows through ``ctys.tables``,
stop signals held by ``ctys.stopsignals``, targets parsed by ``ctys.argscan``); never
``ctys.cli``."""
