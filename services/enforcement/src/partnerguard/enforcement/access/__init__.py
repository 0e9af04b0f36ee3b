"""The access gate: may a customer be given full administrative access?"""
