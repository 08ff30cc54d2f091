"""The component package: the components served to a program in any Pulumi language."""
