"""``fleetmon alerting ...``: amtool's tools that need no hub, registered here (Python 3.8 like the rest of
the command line); their handlers live with the hub (fleetmon.hub.alerting.cli)."""

import argparse
from typing import Callable


def register(commands, handler: Callable[[str], Callable[[argparse.Namespace], int]]) -> None:
    """``handler(name)`` gives the command that runs fleetmon.hub.alerting.cli's function ``name``."""
    alerting = commands.add_parser("alerting", help="alerting tools (like amtool)")
    alerting_commands = alerting.add_subparsers(dest="alerting_command", metavar="COMMAND", required=True)
    template = alerting_commands.add_parser("template", help="Go templates, as receivers render them")
    template_commands = template.add_subparsers(dest="template_command", metavar="COMMAND", required=True)
    render = template_commands.add_parser(
        "render", help="render a template (like amtool template render)",
        description="Render --template.text with the default templates and the --template.glob files, as a "
        "receiver renders its fields, and print the result.")
    render.add_argument("--template.glob", dest="template_glob", action="append", required=True, metavar="GLOB",
                        help="template files to load (repeatable)")
    render.add_argument("--template.text", dest="template_text", required=True, metavar="TEXT",
                        help="the template to render")
    render.add_argument("--template.type", dest="template_type", choices=("text", "html"), default="text",
                        help="text (default) or html (html/template escaping, as email html)")
    render.add_argument("--template.data", dest="template_data", metavar="FILE",
                        help="the data as JSON (Alertmanager's template.Data, e.g. a webhook payload); "
                        "default: amtool's example data")
    render.set_defaults(handler=handler("template_render"))
