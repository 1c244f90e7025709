"""The machine: state machine, money and stock rules, store, config, lifecycle, CLI."""
