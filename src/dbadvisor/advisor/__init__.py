"""The workload-driven index advisor: statements -> usage -> candidates -> what-if costs -> selection."""
