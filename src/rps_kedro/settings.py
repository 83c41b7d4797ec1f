"""Project settings: Kedro defaults, `local` as the default run environment, `oc.env` everywhere
(the loader's arguments live in rps_kedro.config, shared with the service and the tests); plain
console logs when not on a terminal and one start and one end line per node (rps_kedro.console,
rps_kedro.hooks)."""

from rps_kedro.config import CONFIG_LOADER_ARGS
from rps_kedro.console import plain_console_unless_terminal, without_kedro_node_lines
from rps_kedro.hooks import ModelInputExampleHook, ModelPromotionHook, NodeTimingHook
from rps_kedro.sharding import ShardSymbolsHook

plain_console_unless_terminal()
without_kedro_node_lines()

HOOKS = (NodeTimingHook(), ModelInputExampleHook(), ModelPromotionHook(), ShardSymbolsHook())

__all__ = ["CONFIG_LOADER_ARGS", "HOOKS"]
