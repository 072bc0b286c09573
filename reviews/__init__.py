"""The IMR Desk application: cases, reviewers, determinations and letters."""
