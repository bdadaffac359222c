"""Helpers shared by the unit and e2e tests: the ctys CLI as a subprocess (``cli``), the
process table of one test (``procs``) and the LIST rows of one test (``rows``)."""
