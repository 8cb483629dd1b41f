"""The election-night simulator behind `votewire simulate` (see `streams.commands.simulate`)."""
