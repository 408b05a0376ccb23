"""Invoke tasks: thin wrappers that parse flags, call hafab's engine and map errors to exit codes."""
