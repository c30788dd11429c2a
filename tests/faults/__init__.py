"""The fault rig: the service as a small cluster of network hosts on one machine, a load of
simulated people, and faults between its parts (docs/faults.md)."""
