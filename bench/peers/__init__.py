"""The same work written with other stream processors, for `make bench` to compare against."""
