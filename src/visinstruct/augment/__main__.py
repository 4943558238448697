"""`python -m visinstruct.augment ...`: the augment commands on their own."""

from visinstruct.augment.cli import main

main()
