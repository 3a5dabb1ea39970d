"""JupyterHub spawner for jupyterhub-hpc-bridge.

Use in ``jupyterhub_config.py``::

    c.JupyterHub.spawner_class = "hpc_bridge_spawner.HpcBridgeSpawner"
"""

from .client import BridgeClient, BridgeError, BridgeNotFound, BridgeUnavailable
from .spawner import HpcBridgeSpawner, SpawnFailed

__version__ = "0.1.0"

__all__ = [
    "HpcBridgeSpawner",
    "SpawnFailed",
    "BridgeClient",
    "BridgeError",
    "BridgeNotFound",
    "BridgeUnavailable",
    "__version__",
]
