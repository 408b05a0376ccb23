"""The HA cluster on top of the engine: its inventory, vocabulary (roles, units, HAProxy, keepalived), rollout."""
