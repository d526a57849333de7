"""The commands: one module per `nelm-sim` command, each the whole "load -> prepare -> run -> write
folder" workflow; the command line (cli.py), the page (app/) and the Python facade (api.py) call them.

Nothing is imported here, so that the command line loads only the command it runs.
"""
