"""Fault injection for votewire: scenarios that break things while a simulated night runs,
and an oracle that checks the output topics against the simulator's truth (make faults)."""
