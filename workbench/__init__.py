"""ncfl-workbench: reproduce and probe "Neural Compression-Based Feature Learning for Video Restoration" (CVPR 2022).

Data flows one way: data → degrade → models → train → evaluate → store → notebooks/report.
"""

__version__ = "0.1.0"
