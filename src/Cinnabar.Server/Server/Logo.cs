namespace Cinnabar.Server;

/// <summary>The ASCII-art banner redis-server prints at startup on a terminal or with always-show-logo yes.</summary>
public static class Logo
{
    public static string Render(string version, string mode, int port, int pid)
    {
        string[] art =
        {
            "                _._                                                  ",
            "           _.-``__ ''-._                                             ",
            "      _.-``    `.  `_.  ''-._           Redis {0} (00000000/0) 64 bit",
            "  .-`` .-```.  ```\\/    _.,_ ''-._                                  ",
            " (    '      ,       .-`  | `,    )     Running in {1} mode",
            " |`-._`-...-` __...-.``-._|'` _.-'|     Port: {2}",
            " |    `-._   `._    /     _.-'    |     PID: {3}",
            "  `-._    `-._  `-./  _.-'    _.-'                                   ",
            " |`-._`-._    `-.__.-'    _.-'_.-'|                                  ",
            " |    `-._`-._        _.-'_.-'    |           https://redis.io       ",
            "  `-._    `-._`-.__.-'_.-'    _.-'                                   ",
            " |`-._`-._    `-.__.-'    _.-'_.-'|                                  ",
            " |    `-._`-._        _.-'_.-'    |                                  ",
            "  `-._    `-._`-.__.-'_.-'    _.-'                                   ",
            "      `-._    `-.__.-'    _.-'                                       ",
            "          `-._        _.-'                                           ",
            "              `-.__.-'                                               ",
            "",
        };
        return string.Format(string.Join("\n", art) + "\n", version, mode, port, pid);
    }
}
