"""Reading who a ccTalk device is, as hosts do before they use it.

The requests are those of the generic specification's core set: manufacturer
(246), equipment category (245), product code (244), serial number (242),
software revision (241), comms revision (4) and build code (192).  Text
replies are ASCII (trailing blanks and NULs dropped); the serial number is 3
bytes, least significant first, shown as its decimal value; the comms
revision is 3 bytes (release, major, minor), shown ``release.major.minor``.
A request the device refuses (NAK) or answers in a form that cannot be read
leaves its field None: devices implement different subsets.  A device that
does not answer at all raises DeviceLost, as any request does.

Not modelled: the encrypted product id (224) and the ACMI variants.
"""

from __future__ import annotations

from drivers.base import DeviceIdentity
from drivers.cctalk.frame import Header
from drivers.cctalk.link import CctalkLink
from drivers.errors import DeviceBusy, DeviceNak, ProtocolError

SERIAL_LEN = 3
COMMS_REVISION_LEN = 3

# the start-up sequence, in the order third-party hosts send it
IDENTITY_HEADERS: tuple[Header, ...] = (
    Header.MANUFACTURER, Header.EQUIPMENT_CATEGORY, Header.PRODUCT_CODE,
    Header.SERIAL_NUMBER, Header.SOFTWARE_REVISION, Header.COMMS_REVISION, Header.BUILD_CODE,
)


def text(raw: bytes) -> str | None:
    """An ASCII reply as text; None when it is empty or not ASCII."""
    try:
        value = raw.decode("ascii").strip("\x00 ")
    except UnicodeDecodeError:
        return None
    return value or None


def serial_text(raw: bytes) -> str | None:
    """3 bytes, least significant first, as a decimal number."""
    return str(int.from_bytes(raw, "little")) if len(raw) == SERIAL_LEN else None


def comms_revision_text(raw: bytes) -> str | None:
    """[release][major][minor] as ``1.4.2``; some devices answer ASCII instead."""
    if len(raw) == COMMS_REVISION_LEN and all(b < 0x20 for b in raw):
        return ".".join(str(b) for b in raw)
    return text(raw)


async def ask(link: CctalkLink, address: int, header: int, data: bytes = b"") -> bytes | None:
    """One request; None when the device refuses it or answers garbage."""
    try:
        return await link.request(address, header, data)
    except (DeviceNak, DeviceBusy, ProtocolError):
        return None


async def read_identity(link: CctalkLink, address: int,
                        extra: dict[str, int] | None = None) -> DeviceIdentity:
    """Every identity request in the hosts' order, then the ``extra`` text
    fields (name -> header: a hopper's coin id, 171)."""
    replies: dict[int, bytes | None] = {}
    for header in IDENTITY_HEADERS:
        replies[header] = await ask(link, address, header)
    more: dict[str, str] = {}
    for name, wanted in (extra or {}).items():
        raw = await ask(link, address, wanted)
        value = None if raw is None else text(raw)
        if value is not None:
            more[name] = value

    def as_text(header: Header) -> str | None:
        raw = replies[header]
        return None if raw is None else text(raw)

    serial = replies[Header.SERIAL_NUMBER]
    comms = replies[Header.COMMS_REVISION]
    return DeviceIdentity(
        manufacturer=as_text(Header.MANUFACTURER), category=as_text(Header.EQUIPMENT_CATEGORY),
        product_code=as_text(Header.PRODUCT_CODE),
        serial_number=None if serial is None else serial_text(serial),
        software_revision=as_text(Header.SOFTWARE_REVISION),
        comms_revision=None if comms is None else comms_revision_text(comms),
        build_code=as_text(Header.BUILD_CODE),
        extra=more,
    )
