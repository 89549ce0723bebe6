"""The operators' command line, `partnerflow`: the API's commands and reads as readable tables."""
