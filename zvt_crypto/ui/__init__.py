"""The dashboard (``zvt-crypto serve``): one FastAPI app carrying the Dash pages and the REST API under ``/api/v1``.

Nothing is imported or opened here: :func:`zvt_crypto.ui.app.create_app` builds everything from a config."""
