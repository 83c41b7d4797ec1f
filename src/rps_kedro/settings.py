"""Project settings: Kedro defaults, `local` as the default run environment, `oc.env` everywhere
(the loader's arguments live in rps_kedro.config, shared with the service and the tests); plain
console logs when not on a terminal (rps_kedro.console)."""

from rps_kedro.config import CONFIG_LOADER_ARGS
from rps_kedro.console import plain_console_unless_terminal
from rps_kedro.hooks import ModelInputExampleHook, ModelPromotionHook
from rps_kedro.sharding import ShardSymbolsHook

plain_console_unless_terminal()

HOOKS = (ModelInputExampleHook(), ModelPromotionHook(), ShardSymbolsHook())

__all__ = ["CONFIG_LOADER_ARGS", "HOOKS"]
