"""PartnerGuard shared kernel: the mechanisms every service uses, and no business rules."""
