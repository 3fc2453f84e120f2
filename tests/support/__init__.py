"""Scaffolding shared by the test folders: loopback HTTP servers in threads, a PDF builder."""
