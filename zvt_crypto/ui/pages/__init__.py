"""The dashboard's pages, one module each, registered explicitly by :func:`zvt_crypto.ui.app.create_app` (no
folder scan). Each exposes ``register(app, context)`` and pure ``*_content`` functions the callbacks call."""
