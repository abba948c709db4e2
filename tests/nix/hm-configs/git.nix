# A developer's git: identity, aliases, ignores, delta-free diffs, a
# per-directory include.
{ pkgs, ... }:
{
  home.stateVersion = "25.05";

  programs.git = {
    enable = true;
    settings = {
      user.name = "Alice Example";
      user.email = "alice@example.org";
      alias = {
        st = "status -sb";
        lg = "log --oneline --graph --decorate";
      };
      init.defaultBranch = "main";
      pull.rebase = true;
    };
    ignores = [
      "*~"
      ".direnv/"
      "result"
    ];
    includes = [
      {
        condition = "gitdir:~/work/";
        contents.user.email = "alice@work.example";
      }
    ];
  };
}
