"""``python -m inspector``: the same command line as the ``oauth-inspector`` console script."""

from inspector.cli import run

if __name__ == "__main__":
    run()
