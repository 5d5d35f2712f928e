"""The deterministic local models behind the local server."""
