"""Shipping: the recipes that train the shipped systems on real corpora, load those corpora's cached inputs, and
write the model cards. The system kinds themselves live in :mod:`avemo.systems`."""
