"""The fault harness: seeded, bounded scenarios and fuzz runs against votewire (`make faults`)."""
