"""Incident channels in chat: Matrix, Slack and Mattermost."""
