"""Training data: episodes from every source, clips, the token cache, data order, collection and recording."""
