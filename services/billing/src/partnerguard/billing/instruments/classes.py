"""How an instrument class is spelled in events (``InstrumentType`` is coarser: one ``card``)."""

from __future__ import annotations

from partnerguard.billing.models import InstrumentClass
from partnerguard.common.events.types.billing import InstrumentType

_EVENT_TYPES = {
    InstrumentClass.CREDIT_CARD: InstrumentType.CARD,
    InstrumentClass.DEBIT_CARD: InstrumentType.CARD,
    InstrumentClass.PREPAID_CARD: InstrumentType.CARD,
    InstrumentClass.STORED_VALUE: InstrumentType.STORED_VALUE,
    InstrumentClass.BANK_DEBIT: InstrumentType.DIRECT_DEBIT,
    InstrumentClass.BANK_TRANSFER: InstrumentType.BANK_TRANSFER,
    InstrumentClass.INVOICE_TERMS: InstrumentType.INVOICE_TERMS,
}


def event_instrument_type(instrument_class: InstrumentClass | str) -> InstrumentType:
    return _EVENT_TYPES[InstrumentClass(instrument_class)]
