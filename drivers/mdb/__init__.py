"""MDB (Multi-Drop Bus, MDB/ICP 4.2) drivers: the link to the bus and the devices on it.

``block`` holds the wire rules, ``link`` the transport interface with its two
implementations (``qibixx`` board, ``raw9`` UART), ``device`` the life cycle every
peripheral shares.  Imports nothing of the controller.
"""
