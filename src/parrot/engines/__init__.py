"""Acoustic engines behind one small protocol (see ``base``)."""
