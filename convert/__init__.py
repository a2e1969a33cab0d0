"""auedge.convert: trained Keras run -> TFLite/ONNX variants, validated, written as one bundle.

Entry points: ``python convert/export.py`` / ``au-edge-export`` (:func:`auedge.convert.export.main`)
and, from Python, :func:`auedge.convert.export.export_bundle` with an
:class:`auedge.convert.export.ExportOptions`.
"""
