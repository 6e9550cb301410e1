using System.Runtime.InteropServices;
using System.Text;
using Cinnabar.Server;
using Cinnabar.Server.Config;

return Startup.Run(args);

/// <summary>redis-server's main(): command line, config, daemonize, banner, listeners, then the event loop.</summary>
static class Startup
{
    public static int Run(string[] args)
    {
        if (args.Length >= 1 && (args[0] == "-v" || args[0] == "--version"))
        {
            Console.Out.Write($"Redis server v={CinnabarServer.Version} sha=00000000:0 malloc=libc bits=64 build=cinnabar\n");
            return 0;
        }
        if (args.Length >= 1 && (args[0] == "-h" || args[0] == "--help"))
        {
            Console.Out.Write("Usage: ./cinnabar-server [/path/to/redis.conf] [options] [-]\n       ./cinnabar-server - (read config from stdin)\n       ./cinnabar-server -v or --version\n       ./cinnabar-server -h or --help\n\nExamples:\n       ./cinnabar-server (run the server with default conf)\n       ./cinnabar-server /etc/redis/6379.conf\n       ./cinnabar-server --port 7777\n       ./cinnabar-server --port 7777 --replicaof 127.0.0.1 8888\n       ./cinnabar-server /etc/myredis.conf --loglevel verbose -\n       ./cinnabar-server /etc/myredis.conf --loglevel verbose\n");
            return 0;
        }

        var server = new CinnabarServer { Executable = Environment.ProcessPath ?? "cinnabar-server" };
        Cinnabar.Server.Storage.Clock.Update();
        server.Config = new ConfigTable(server);

        int j = 0;
        string configFile = null;
        if (args.Length > 0 && !args[0].StartsWith("--") && args[0] != "-")
        {
            configFile = args[0];
            j = 1;
        }
        string options = BuildOptions(args, j, out bool fromStdin);

        string fileText = "";
        if (configFile != null)
        {
            try
            {
                fileText = File.ReadAllText(configFile, Encoding.Latin1);
                server.ConfigFile = Path.GetFullPath(configFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                server.Log.Role = 'C';
                server.Log.Warning($"Fatal error, can't open config file '{configFile}': {StrError(e)}");
                return 1;
            }
        }
        if (fromStdin) fileText += new StreamReader(Console.OpenStandardInput(), Encoding.Latin1).ReadToEnd();
        try
        {
            // Redis parses one text: the file, a newline, then one line per --option.
            int fileLines = fileText.Length == 0 ? 0 : fileText.Split('\n').Length;
            string text = options.Length > 0 ? fileText + "\n" + options : fileText;
            server.Config.LoadFromString(text, configFile != null ? fileLines : 0);
            server.Config.SanityCheck();
        }
        catch (ConfigTable.ConfigError e)
        {
            var err = Console.OpenStandardError();
            var report = new StringBuilder();
            report.Append($"\n*** FATAL CONFIG FILE ERROR (Redis {CinnabarServer.Version}) ***\n");
            if (e.LineNumber > 0)
            {
                report.Append($"Reading the configuration file, at line {e.LineNumber}\n");
                report.Append($">>> '{e.Line}'\n");
            }
            report.Append(e.Message).Append('\n');
            err.Write(Encoding.Latin1.GetBytes(report.ToString()));
            err.Flush();
            return 1;
        }

        if (server.Settings.Daemonize && Environment.GetEnvironmentVariable("CINNABAR_DAEMONIZED") != "1")
            return Daemonize(args);

        return server.Run(args.Length == 0);
    }

    /// <summary>Appends "--name value" pairs to the config the way redis-server does ("name value" lines after the file).</summary>
    static string BuildOptions(string[] args, int j, out bool fromStdin)
    {
        fromStdin = false;
        var options = new StringBuilder();
        bool handledLast = true;
        for (; j < args.Length; j++)
        {
            string a = args[j];
            if (a == "-" && (j == 0 || j == args.Length - 1)) { fromStdin = true; continue; }
            if (handledLast && a.StartsWith("--"))
            {
                if (options.Length > 0) options.Append('\n');
                options.Append(a[2..]).Append(' ');
                var split = ConfigTable.SplitArgs(a);
                if (split != null && split.Count == 1)
                {
                    handledLast = false;
                    bool nextIsOption = j != args.Length - 1 && args[j + 1].StartsWith("--");
                    if (nextIsOption && a.Equals("--save", StringComparison.OrdinalIgnoreCase))
                    {
                        options.Append("\"\"");
                        handledLast = true;
                    }
                    else if (j == args.Length - 1 && a.Equals("--save", StringComparison.OrdinalIgnoreCase))
                        options.Append("\"\"");
                }
                else handledLast = true;
            }
            else
            {
                options.Append(Repr.Quoted(a)).Append(' ');
                handledLast = true;
            }
        }
        return options.ToString();
    }

    static string StrError(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };

    /// <summary>daemonize yes: .NET cannot fork, so start a detached copy of ourselves and exit.</summary>
    static int Daemonize(string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo
        {
            FileName = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : Environment.ProcessPath!,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (psi.FileName.EndsWith("setsid")) psi.ArgumentList.Add(Environment.ProcessPath!);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CINNABAR_DAEMONIZED"] = "1";
        var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Close();
        return 0;
    }
}
