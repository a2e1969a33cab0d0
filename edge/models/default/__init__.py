"""The default bundle: bundle.json, its TFLite models and detector, MODEL_CARD.md, as package data.

Empty in a source checkout until a bundle is dropped here; :mod:`auedge.edge.default_bundle`
finds it (or says that none is installed).
"""
