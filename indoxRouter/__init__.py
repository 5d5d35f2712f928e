"""``indoxRouter``: the documented import name, an alias of :mod:`shared_client`.

    from indoxRouter import Client
    from indoxRouter.exceptions import RateLimitError
"""

import sys

import shared_client
from shared_client import *  # noqa: F403
from shared_client import __all__, __version__  # noqa: F401
from shared_client import exceptions as exceptions
from shared_client import models as models

# ``import indoxRouter.exceptions`` / ``.models`` find the very same modules.
sys.modules[f"{__name__}.exceptions"] = shared_client.exceptions
sys.modules[f"{__name__}.models"] = shared_client.models
