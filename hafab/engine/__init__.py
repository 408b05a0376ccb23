"""The generic state engine: render, top, compile, facts, run, transport, output. It knows no cluster."""
