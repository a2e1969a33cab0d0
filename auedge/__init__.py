"""AU-Edge: facial Action Unit estimation on mobile and embedded devices.

The stages live in their own folders and install under this namespace:
``auedge.train`` (train/), ``auedge.convert`` (convert/), ``auedge.edge`` (edge/),
``auedge.benchmarks`` (benchmarks/).
"""

__version__ = "0.1.0"
