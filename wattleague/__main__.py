from wattleague.cli import main

main()
