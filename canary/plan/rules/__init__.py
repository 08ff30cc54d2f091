"""The rules the plans check values against: names, quantities, checkov ids, ArgsError."""
