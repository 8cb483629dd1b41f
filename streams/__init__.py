"""votewire: live vote-count stream processing on Apache Kafka with Faust."""

__version__ = "0.1.0"
