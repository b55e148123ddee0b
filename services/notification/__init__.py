"""Notification: tell customers and staff what happened, at most once per notification key."""
