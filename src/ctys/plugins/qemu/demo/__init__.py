"""The QEMU plugin's demo VMs and ``ctys-demo``: the tiny demo VM's folder and conf
(``demovm``), the real system guest's VM folder (``realvm``) and its booted demo
(``realdemo``), and the command line (``cli``: ``ctys-demo [--real]``).

Layer: the plugin's top, beside ``actions``; uses ``images`` and the core."""
