# neovim as the editor, with an init.lua of its own in xdg.configFile.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.neovim = {
    enable = true;
    defaultEditor = true;
    viAlias = true;
    vimAlias = true;
  };
  xdg.configFile."nvim/lua/options.lua".text = ''
    vim.opt.number = true
    vim.opt.expandtab = true
  '';
}
