"""Running ctys on other hosts: ssh argv building, parallel fan-out, merging results."""
