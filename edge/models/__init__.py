"""Bundles shipped inside the package (package data); see :mod:`auedge.edge.default_bundle`."""
