"""``indoxRouter``: the documented import name, an alias of :mod:`shared_client`.

    from indoxRouter import Client
"""

from shared_client import *  # noqa: F403
from shared_client import __all__, __version__  # noqa: F401
from shared_client import exceptions as exceptions
from shared_client import models as models
